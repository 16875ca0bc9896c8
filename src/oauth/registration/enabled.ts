import type { RegistrationConfig } from '../../config/registration.js';

/** Whether `/register` is served: enabled, and someone may use it (open, or an initial access token). */
export function registrationEnabled(config: RegistrationConfig): boolean {
  return config.enabled && (config.open || config.initial_access_tokens.length > 0);
}
