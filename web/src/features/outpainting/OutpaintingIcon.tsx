/** The Outpainting tab's icon: a picture with arrows pushing its borders outwards. */
export function OutpaintingIcon({ size = 18 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <rect x="7" y="7" width="10" height="10" rx="1.5" />
      <path d="M3 9V3h6M21 15v6h-6M15 3h6v6M9 21H3v-6" strokeDasharray="2 2.2" />
    </svg>
  );
}
