export { BUILTIN_COMMUNITIES } from './communities.js';
export {
  bannerOf,
  dominates,
  joinLabels,
  labelsEquivalent,
  meetLabels,
  type Releasability,
  releasabilityOf,
} from './lattice.js';
export {
  type Classification,
  CONTROLS,
  type Community,
  type Control,
  type Label,
  type MarkingForm,
  type Membership,
  PAP_LEVELS,
  type Pap,
  TLP_LEVELS,
  type Tlp,
} from './model.js';
export { type ParsedMarking, parseMarking, sortControls, sortRelTo } from './parse.js';
export {
  alpha3ToAlpha2,
  BUILTIN_CAVEATS,
  createRegistry,
  DEFAULT_REGISTRY,
  isCommunityCode,
  isCountryCode,
  isMemberAt,
  levelAbbrev,
  type MarkingRegistry,
  membersAt,
  nominalRank,
  type RegistryOptions,
} from './registry.js';
export { orderRelTo, type RenderOptions, renderBanner, renderPortionMark } from './render.js';
export {
  BUILTIN_SCHEMES,
  type ClassificationScheme,
  COMMON_LEVEL_NAMES,
  COMMON_SCHEME,
  commonLevelName,
  NATO_SCHEME,
  type SchemeLevel,
  UK_SCHEME,
} from './schemes.js';
