import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { visibleWindow } from "../lib/visible-window.js";

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  height: number;
  renderRow(index: number): ComponentChildren;
  label: string;
  /** keep the newest row in view while the user has not scrolled up */
  followTail?: boolean;
  /** scroll so that this row is in view (set by a "jump to line") */
  scrollTo?: number | null;
}

/**
 * A list that renders only the rows in view (fixed row height), so a 100,000-line log scrolls and
 * filters without lag. Keyboard users scroll it with the arrow keys once it has focus.
 */
export function VirtualList({ count, rowHeight, height, renderRow, label, followTail = false, scrollTo = null }: VirtualListProps) {
  const viewport = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const pinned = useRef(true);

  useLayoutEffect(() => {
    const element = viewport.current;
    if (!element || !followTail || !pinned.current) return;
    element.scrollTop = count * rowHeight;
    setScrollTop(element.scrollTop);
  }, [count, followTail, rowHeight]);

  useEffect(() => {
    const element = viewport.current;
    if (!element || scrollTo === null) return;
    const top = scrollTo * rowHeight;
    if (top < element.scrollTop || top > element.scrollTop + height - rowHeight) element.scrollTop = Math.max(0, top - height / 3);
    pinned.current = false;
    setScrollTop(element.scrollTop);
  }, [scrollTo, rowHeight, height]);

  const onScroll = () => {
    const element = viewport.current;
    if (!element) return;
    pinned.current = element.scrollTop + element.clientHeight >= element.scrollHeight - rowHeight * 2;
    setScrollTop(element.scrollTop);
  };
  const { start, end } = visibleWindow(scrollTop, height, rowHeight, count);
  const rows: ComponentChildren[] = [];
  for (let index = start; index < end; index++) {
    rows.push(
      <div class="virtual-row" key={index} style={{ top: `${index * rowHeight}px`, height: `${rowHeight}px` }} role="listitem">
        {renderRow(index)}
      </div>,
    );
  }
  return (
    <div class="virtual-viewport" ref={viewport} style={{ height: `${height}px` }} onScroll={onScroll} tabIndex={0} role="region" aria-label={label}>
      <div class="virtual-space" style={{ height: `${count * rowHeight}px` }} role="list" aria-label={label}>
        {rows}
      </div>
    </div>
  );
}
