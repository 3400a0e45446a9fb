/**
 * The WAT editor: CodeMirror 6 with its WebAssembly text mode (@codemirror/legacy-modes),
 * line numbers, undo history, and the line a compile error names marked. A thin wrapper so
 * SourcePanel only sets text, error line and attributes.
 */
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands'
import { defaultHighlightStyle, StreamLanguage, syntaxHighlighting } from '@codemirror/language'
import { wast } from '@codemirror/legacy-modes/mode/wast'
import { Annotation, Compartment, EditorState, RangeSetBuilder, StateEffect, StateField } from '@codemirror/state'
import { Decoration, EditorView, keymap, lineNumbers, type DecorationSet } from '@codemirror/view'

const setErrorLine = StateEffect.define<number | null>()
/** Marks text set from outside (an example, an upload), which is not the user's edit. */
const fromOutside = Annotation.define<boolean>()

/** The error line's highlight, kept through edits until the next compile says otherwise. */
const errorLine = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, tr) {
    for (const effect of tr.effects) {
      if (!effect.is(setErrorLine)) continue
      const builder = new RangeSetBuilder<Decoration>()
      if (effect.value !== null && effect.value <= tr.state.doc.lines) {
        builder.add(tr.state.doc.line(effect.value).from, tr.state.doc.line(effect.value).from, Decoration.line({ class: 'cm-error-line' }))
      }
      return builder.finish()
    }
    return marks.map(tr.changes)
  },
  provide: (field) => EditorView.decorations.from(field),
})

export interface WatEditor {
  setText(text: string): void
  /** Marks (or, with null, unmarks) a 1-based line; `invalid` sets aria-invalid, pointing at #compile-error. */
  setError(line: number | null, invalid: boolean): void
  /** Selects a 1-based line and focuses the editor. */
  selectLine(line: number): void
  destroy(): void
}

/** `onEdit` gets the text after each edit of the user's (not after `setText`). */
export function createWatEditor(parent: HTMLElement, text: string, attributes: Record<string, string>, onEdit: (text: string) => void): WatEditor {
  const aria = new Compartment()
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        history(),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        StreamLanguage.define(wast),
        syntaxHighlighting(defaultHighlightStyle),
        errorLine,
        EditorView.contentAttributes.of({ spellcheck: 'false', ...attributes }),
        aria.of([]),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && !update.transactions.some((tr) => tr.annotation(fromOutside))) onEdit(update.state.doc.toString())
        }),
      ],
    }),
  })
  return {
    setText(next) {
      if (next !== view.state.doc.toString()) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: next }, annotations: fromOutside.of(true) })
    },
    setError(line, invalid) {
      view.dispatch({
        effects: [setErrorLine.of(line), aria.reconfigure(invalid ? EditorView.contentAttributes.of({ 'aria-invalid': 'true', 'aria-describedby': 'compile-error' }) : [])],
      })
    },
    selectLine(line) {
      const target = view.state.doc.line(Math.min(Math.max(line, 1), view.state.doc.lines))
      view.dispatch({ selection: { anchor: target.from, head: target.to }, scrollIntoView: true })
      view.focus()
    },
    destroy: () => view.destroy(),
  }
}
