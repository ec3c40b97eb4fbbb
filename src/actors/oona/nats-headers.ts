/** Header conversion between Esper's plain records and nats.js `MsgHdrs`. */
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import type { Headers } from './bus.ts';

const NO_HEADERS: Headers = Object.freeze({});

/** Esper headers as nats.js headers (only built when a message has some). */
export function toNatsHeaders(h: Headers): MsgHdrs {
  const out = natsHeaders();
  for (const key of Object.keys(h)) out.set(key, h[key] as string);
  return out;
}

/** nats.js headers as a frozen plain record (first value of each key). */
export function fromNatsHeaders(h: MsgHdrs | undefined): Headers {
  if (h === undefined) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const key of h.keys()) out[key] = h.get(key);
  return Object.freeze(out);
}
