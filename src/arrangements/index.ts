export { arrangementVersionHash } from './hash.js';
export {
  type ArrangementTerms,
  allowedTransitions,
  amendArrangement,
  parseArrangement,
  type SignatureStatus,
  setPartySuspended,
  signatureStatus,
  transitionArrangement,
} from './lifecycle.js';
export {
  ARRANGEMENT_STATUSES,
  ARRANGEMENT_TYPES,
  type ArrangementDocument,
  ArrangementDocumentSchema,
  type ArrangementParty,
  type ArrangementSignature,
  type ArrangementStatus,
} from './model.js';
