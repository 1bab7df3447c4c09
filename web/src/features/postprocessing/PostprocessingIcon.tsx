/** The Postprocessing tab's icon: a stack of pictures with a sparkle (upscale and restore many at once). */
export function PostprocessingIcon({ size = 18 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <rect x="3" y="7" width="13" height="13" rx="1.5" />
      <path d="M7 3.5h12.5a1.5 1.5 0 0 1 1.5 1.5v12.5" />
      <path d="M9.5 10.5l1 2.5 2.5 1-2.5 1-1 2.5-1-2.5-2.5-1 2.5-1z" />
    </svg>
  );
}
