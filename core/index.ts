export * from './errors/index.js'
export * from './meter/index.js'
export * from './policy/index.js'
