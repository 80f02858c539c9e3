export { type CompiledArrangement, compileArrangement, rankUnder } from './compiled-arrangement.js';
export {
  type Decision,
  type DerivedProduct,
  RULE_IDS,
  type RuleId,
  type RuleOutcome,
  type RuleResult,
  type WithheldPortion,
} from './decision.js';
export { decideRead, type ReadContext, type Reader } from './read.js';
export { decideRelease, type ReleaseContext } from './release.js';
export { tearProduct, WITHHELD_TITLE } from './tear-line.js';
