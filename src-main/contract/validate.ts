import { z } from 'zod';
import { CHANNELS, isChannel } from './channels';
import type { Channel, ParsedRequestOf, ResponseOf, Result } from './channels';
import { ERROR_CODES, UserError } from './errors';

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) =>
      issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
    )
    .join('; ');
}

/** Validates a request against its channel's schema; throws INVALID_INPUT in plain words. */
export function parseRequest<C extends Channel>(channel: C, payload: unknown): ParsedRequestOf<C> {
  if (!isChannel(channel))
    throw new UserError('INVALID_INPUT', `Unknown request "${String(channel)}".`);
  const parsed = CHANNELS[channel].request.safeParse(payload);
  if (!parsed.success) {
    throw new UserError(
      'INVALID_INPUT',
      `Invalid request for ${channel}: ${describeIssues(parsed.error)}.`,
    );
  }
  return parsed.data as ParsedRequestOf<C>;
}

/** Validates a response; a mismatch is a bug on our side, reported as INTERNAL. */
export function parseResponse<C extends Channel>(channel: C, payload: unknown): ResponseOf<C> {
  const parsed = CHANNELS[channel].response.safeParse(payload);
  if (!parsed.success) {
    throw new Error(
      `the reply to ${channel} did not match the contract (${describeIssues(parsed.error)})`,
    );
  }
  return parsed.data as ResponseOf<C>;
}

const ErrorPayloadSchema = z.strictObject({ code: z.enum(ERROR_CODES), message: z.string() });

/** The `Result` envelope; built once, since every reply goes through it. */
const ResultEnvelope = z.union([
  z.strictObject({ ok: z.literal(true), value: z.unknown() }),
  z.strictObject({ ok: z.literal(false), error: ErrorPayloadSchema }),
]);

/** Validates a `Result` envelope received from the other side of a process boundary. */
export function parseResult<C extends Channel>(
  channel: C,
  payload: unknown,
): Result<ResponseOf<C>> {
  const envelope = ResultEnvelope.safeParse(payload);
  if (!envelope.success) {
    return {
      ok: false,
      error: { code: 'INTERNAL', message: `The reply to ${channel} was malformed.` },
    };
  }
  if (!envelope.data.ok) {
    return { ok: false, error: envelope.data.error };
  }
  try {
    return { ok: true, value: parseResponse(channel, envelope.data.value) };
  } catch (err) {
    return { ok: false, error: { code: 'INTERNAL', message: (err as Error).message } };
  }
}
