/** The current-image buttons only the desktop window has: "Save as…" and "Show in folder" (native dialogs). */
import { useAppDispatch } from '../../app/hooks';
import { hasDesktopBridge, revealInFolderNative, saveImageAsNative } from '../../app/desktopBridge';
import type { ImageInfo } from '../../app/protocol';
import { IconButton } from '../../common/components/IconButton';
import { FolderIcon, SaveAsIcon } from '../../common/components/Icons';
import { errorOccurred } from '../system/systemSlice';

/** Nothing in a browser; in the desktop window, two buttons acting on `image` (null: disabled). */
export function DesktopImageButtons({ image }: { image: ImageInfo | null }) {
  const dispatch = useAppDispatch();
  if (!hasDesktopBridge()) return null;
  // A failed call answers {error} after the server has shown it as a toast; only a broken bridge
  // (the promise rejects) is left for the page to report.
  const broken = () => dispatch(errorOccurred('The desktop window did not answer; try again.'));
  return (
    <>
      <IconButton
        label="Save as…"
        tooltip="Save as…: save a copy of this image wherever you choose."
        icon={<SaveAsIcon />}
        disabled={!image}
        onClick={() => image && saveImageAsNative(image.url).catch(broken)}
        data-testid="save-image-as"
      />
      <IconButton
        label="Show in folder"
        tooltip="Show in folder: open the folder holding this image in your file manager."
        icon={<FolderIcon />}
        disabled={!image}
        onClick={() => image && revealInFolderNative(image.url).catch(broken)}
        data-testid="reveal-in-folder"
      />
    </>
  );
}
