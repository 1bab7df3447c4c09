/** Dismissable notices: server errors stay until dismissed, other notices fade after a few seconds. */
import { useEffect } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { CloseIcon } from '../../common/components/Icons';
import { toastDismissed, type Toast } from './systemSlice';

function ToastItem({ toast }: { toast: Toast }) {
  const dispatch = useAppDispatch();
  useEffect(() => {
    if (toast.kind === 'error') return;
    const timer = window.setTimeout(() => dispatch(toastDismissed(toast.id)), 3500);
    return () => window.clearTimeout(timer);
  }, [dispatch, toast.id, toast.kind]);
  return (
    <div className={`toast toast--${toast.kind}`} role={toast.kind === 'error' ? 'alert' : 'status'} data-testid={`toast-${toast.kind}`}>
      <span className="toast__message">{toast.message}</span>
      <button type="button" className="toast__close" aria-label="Dismiss" onClick={() => dispatch(toastDismissed(toast.id))}>
        <CloseIcon size={14} />
      </button>
    </div>
  );
}

export function Toasts() {
  const toasts = useAppSelector((s) => s.system.toasts);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <ToastItem key={t.id} toast={t} />
      ))}
    </div>
  );
}
