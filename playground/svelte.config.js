// Svelte 5 defaults; runes mode is on by default.
export default {}
