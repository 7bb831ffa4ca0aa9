/** A tiny element builder: h('div', { class: 'x', onclick }, child, 'text'). */
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** A text node whose content is written only when it changes (no layout work for an unchanged value). */
export class LiveText {
  readonly node = document.createTextNode('');
  private value = '';
  constructor(initial = '') {
    this.set(initial);
  }
  set(value: string) {
    if (value !== this.value) {
      this.value = value;
      this.node.nodeValue = value;
    }
  }
}

/** Sets an attribute only when it changes. */
export function setAttr(el: Element, name: string, value: string | null) {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

let announceTimer: ReturnType<typeof setTimeout> | undefined;
/** Tells screen readers something happened, through the page's one polite live region. */
export function announce(message: string) {
  const region = document.getElementById('announcer');
  if (!region) return;
  clearTimeout(announceTimer);
  region.textContent = '';
  announceTimer = setTimeout(() => (region.textContent = message), 50);
}
