export { decodeUtf8, encodeUtf8 } from './utf8.js'
export { clip } from './clip.js'
