/** A hover/focus tooltip that says what a control does, drawn above everything so panels never clip it. */
import { useCallback, useId, useLayoutEffect, useRef, useState, type PointerEvent, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

interface TooltipProps {
  label: string;
  children: ReactNode;
  placement?: 'top' | 'bottom' | 'right' | 'left';
  /** Stretch the wrapper to the child's width (form rows). */
  block?: boolean;
}

export function Tooltip({ label, children, placement = 'top', block = false }: TooltipProps) {
  const id = useId();
  const anchor = useRef<HTMLSpanElement>(null);
  const bubble = useRef<HTMLDivElement>(null);
  const [open, setOpen] = useState(false);
  const [pos, setPos] = useState<{ left: number; top: number } | null>(null);
  const timer = useRef<number | undefined>(undefined);
  // A tap (touch or pen) shows no tooltip: it would stay open, there being no pointer to leave.
  const tapped = useRef(false);

  const show = useCallback(() => {
    window.clearTimeout(timer.current);
    if (tapped.current) return;
    timer.current = window.setTimeout(() => setOpen(true), 350);
  }, []);
  const hide = useCallback(() => {
    window.clearTimeout(timer.current);
    setOpen(false);
    setPos(null);
  }, []);

  useLayoutEffect(() => {
    if (!open || !anchor.current || !bubble.current) return;
    // The control itself, not the wrapper: a fixed or absolutely placed control (the gallery's
    // opener) leaves its wrapper elsewhere in the page.
    const trigger = anchor.current.firstElementChild ?? anchor.current;
    const a = trigger.getBoundingClientRect();
    const b = bubble.current.getBoundingClientRect();
    const gap = 8;
    let left = a.left + a.width / 2 - b.width / 2;
    let top = placement === 'bottom' ? a.bottom + gap : a.top - b.height - gap;
    if (placement === 'right') {
      left = a.right + gap;
      top = a.top + a.height / 2 - b.height / 2;
    } else if (placement === 'left') {
      left = a.left - b.width - gap;
      top = a.top + a.height / 2 - b.height / 2;
    }
    if (top < 4) top = a.bottom + gap;
    left = Math.max(4, Math.min(left, window.innerWidth - b.width - 4));
    top = Math.max(4, Math.min(top, window.innerHeight - b.height - 4));
    setPos({ left, top });
  }, [open, placement]);

  return (
    <span
      ref={anchor}
      className={block ? 'tooltip-anchor tooltip-anchor--block' : 'tooltip-anchor'}
      onPointerEnter={(e: PointerEvent) => {
        if (e.pointerType === 'mouse') {
          tapped.current = false;
          show();
        }
      }}
      onPointerLeave={hide}
      onFocus={show}
      onBlur={hide}
      onPointerDown={(e: PointerEvent) => {
        tapped.current = e.pointerType !== 'mouse';
        hide();
      }}
      aria-describedby={open ? id : undefined}
      data-tooltip={label}
    >
      {children}
      {open &&
        createPortal(
          <div
            ref={bubble}
            id={id}
            role="tooltip"
            className="tooltip"
            style={pos ? { left: pos.left, top: pos.top } : { left: -9999, top: -9999 }}
          >
            {label}
          </div>,
          document.body,
        )}
    </span>
  );
}
