/** A square button with an icon, an accessible name and a tooltip. */
import type { ButtonHTMLAttributes, ReactNode } from 'react';
import { Tooltip } from './Tooltip';

interface IconButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  label: string;
  tooltip?: string;
  icon: ReactNode;
  variant?: 'ghost' | 'solid' | 'danger' | 'accent';
  size?: 'sm' | 'md';
  placement?: 'top' | 'bottom' | 'right' | 'left';
}

export function IconButton({
  label,
  tooltip,
  icon,
  variant = 'solid',
  size = 'md',
  placement = 'bottom',
  className,
  ...rest
}: IconButtonProps) {
  return (
    <Tooltip label={tooltip ?? label} placement={placement}>
      <button
        type="button"
        aria-label={label}
        className={`icon-button icon-button--${variant} icon-button--${size} ${className ?? ''}`}
        {...rest}
      >
        {icon}
      </button>
    </Tooltip>
  );
}
