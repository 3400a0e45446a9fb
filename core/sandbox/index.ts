export { SandboxBase } from './sandbox-base.js'
export { isWatText, bytesLookLikeText } from './detect-source.js'
export type { CallOptions, AbortSignalLike } from './call-args.js'
export type { LoadedSource, Platform, WorkerHandle } from './platform.js'
