export {
  type ProductSource,
  parseStreamEventInput,
  STREAM_EVENT_KINDS,
  type StreamEvent,
  type StreamEventInput,
  type StreamEventKind,
} from './event.js';
export type { BusErrorSink, BusSubscription, EventBus } from './event-bus.js';
export { InProcessBus, type InProcessBusOptions } from './in-process-bus.js';
export { NatsBus, type NatsBusOptions } from './nats-bus.js';
