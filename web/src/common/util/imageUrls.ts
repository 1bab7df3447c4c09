/** URLs of images and their thumbnails as the server serves them. */

export const isInlineImage = (url: string): boolean => url.startsWith('data:') || url.startsWith('blob:');

/** The server's thumbnail of an output image; inline previews are their own thumbnail. */
export function thumbnailUrl(url: string): string {
  if (isInlineImage(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}thumbnail=1`;
}

export function fileName(url: string): string {
  if (isInlineImage(url)) return 'image.png';
  const path = url.split('?')[0];
  return decodeURIComponent(path.split('/').pop() ?? 'image.png');
}
