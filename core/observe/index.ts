export { MetricsRecorder, WALL_SAMPLES } from './metrics.js'
export type { Metrics } from './metrics.js'
export type { CompileCacheEvent, EventHandler, SandboxEvent } from './sandbox-event.js'
