export { formatBytes, parseBytes, parseDuration } from './units.js'
