/**
 * Where a node's supervision events go (DESIGN §5): restarts, escalations
 * and breaker changes that belong to no run, each in an envelope on
 * `<prefix>.sys.<type>`, from `<node>/<part>` (the dashboard reads the node
 * from the source's first token).
 */
import type { Bus } from '../actors/oona/index.ts';
import { createEnvelope } from '../contracts/envelope.ts';
import { subjects } from '../contracts/subjects.ts';

/** A sink for events shaped `{ type, ...data }` that publishes each on `<prefix>.sys.<type>` from `source`. */
export function systemEventPublisher(bus: Bus, prefix: string, source: string): (event: { type: string }) => void {
  const s = subjects(prefix);
  return (event) => {
    const { type, ...data } = event;
    bus.publish(s.system(type), createEnvelope({ type, data, source }));
  };
}
