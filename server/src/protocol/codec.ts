import { Packr } from 'msgpackr';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ClientMessageSchema, type ClientMessage, type ServerMessage } from './messages.ts';
import { BadRequestError } from '../errors.ts';

// Plain maps and arrays only (no msgpackr records), so any MessagePack library can talk to us.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const clientMessage = TypeCompiler.Compile(ClientMessageSchema);
const KINDS = new Set<string>(ClientMessageSchema.anyOf.map((s) => s.properties.type.const));

export function encodeMessage(message: ServerMessage): Buffer {
  return packr.pack(message);
}

/** Decodes and validates a client message; a BadRequestError says what is wrong with it. */
export function decodeClientMessage(data: Uint8Array): ClientMessage {
  let value: unknown;
  try {
    value = packr.unpack(data);
  } catch {
    throw new BadRequestError('malformed MessagePack');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequestError('a message must be a map');
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') throw new BadRequestError('a message needs a string "type"');
  if (!KINDS.has(type)) throw new BadRequestError(`unknown message type ${JSON.stringify(type.slice(0, 40))}`);
  if (clientMessage.Check(value)) return value;
  // Errors of the union's other members are noise; report those of the member named by `type`.
  const member = ClientMessageSchema.anyOf.find((s) => s.properties.type.const === type);
  const first = member ? TypeCompiler.Compile(member).Errors(value).First() : undefined;
  throw new BadRequestError(first ? `bad ${type} message: ${first.path || '/'} ${first.message}` : `bad ${type} message`);
}

/** For bots and tests: the other direction. */
export function encodeClientMessage(message: ClientMessage): Buffer {
  return packr.pack(message);
}

export function decodeServerMessage(data: Uint8Array): ServerMessage {
  return packr.unpack(data) as ServerMessage;
}
