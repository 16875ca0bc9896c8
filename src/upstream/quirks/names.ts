/** The quirk names a provider file may use: defined with the provider schema, in config/. */
export { QUIRK_NAMES, type QuirkName } from '../../config/quirk-names.js';
