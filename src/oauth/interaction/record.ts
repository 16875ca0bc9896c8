import type { Context } from 'koa';
import { browserBinding } from '../../http/browser-id.js';
import type { StoreOp } from '../../store/index.js';
import type { AuthorizationRequest } from '../authorize-request.js';
import type { OAuthContext } from '../context.js';
import { randomToken } from '../crypto.js';
import { BrokerError } from '../../http/broker-error.js';
import { constantTimeEqual } from '../../lib/constant-time.js';

/** A pending authorization request, waiting for the user to log in upstream or to consent. */
export interface Interaction {
  request: AuthorizationRequest;
  /** Hash of the browser-id cookie: only this browser may continue it. */
  binding: string;
  /** Set once the user is known and only consent is missing. */
  consentFor?: string;
}

const INTERACTION_TTL_S = 600;
const interactionKey = (id: string) => `interaction:${id}`;

/** A new interaction's id and the write that stores it (the caller batches it). */
export function newInteraction(interaction: Interaction): { id: string; op: StoreOp } {
  const id = randomToken(24);
  return { id, op: { op: 'put', key: interactionKey(id), value: JSON.stringify(interaction), ttl: INTERACTION_TTL_S } };
}

/** An interaction to carry inside a login transaction (LoginContext `held`) instead of its own key. */
export function heldInteraction(interaction: Interaction): Record<string, unknown> {
  return { ...interaction };
}

/**
 * The interaction an upstream login of kind `authorize` finishes: the one held in its transaction
 * (already taken once with it, atomically, and bound to this browser), else the stored one, taken.
 */
export async function takeLoginInteraction(
  ctx: Context,
  oauth: OAuthContext,
  context: { interaction: string; held?: Record<string, unknown> },
): Promise<Interaction> {
  if (!context.held) return loadInteraction(ctx, oauth, context.interaction, true);
  const { request, binding } = context.held;
  if (typeof request !== 'object' || request === null || typeof binding !== 'string') {
    throw new BrokerError(
      'invalid_request',
      'this sign-in attempt is not valid; start again from the application',
      400,
    );
  }
  return checkedBinding(ctx, { request: request as AuthorizationRequest, binding });
}

function checkedBinding(ctx: Context, interaction: Interaction): Interaction {
  if (!constantTimeEqual(interaction.binding, browserBinding(ctx))) {
    throw new BrokerError(
      'invalid_request',
      'this sign-in attempt was started in another browser; start again from the application',
      400,
    );
  }
  return interaction;
}

/** Reads (or takes, when the interaction ends here) an interaction this browser started. */
export async function loadInteraction(
  ctx: Context,
  oauth: OAuthContext,
  id: string,
  take: boolean,
): Promise<Interaction> {
  if (!/^[A-Za-z0-9_-]{32}$/.test(id)) throw new BrokerError('invalid_request', 'this sign-in link is not valid', 400);
  const text = take ? await oauth.store.take(interactionKey(id)) : await oauth.store.get(interactionKey(id));
  if (!text) {
    throw new BrokerError(
      'invalid_request',
      'this sign-in attempt has expired or was already used; start again from the application',
      400,
    );
  }
  return checkedBinding(ctx, JSON.parse(text) as Interaction);
}
