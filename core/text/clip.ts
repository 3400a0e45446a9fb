/**
 * `text` cut to at most `max` UTF-16 units, saying how much was cut: guest-chosen text (names,
 * paths, trap messages) reaches errors and audit events, which must stay bounded.
 */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`
}
