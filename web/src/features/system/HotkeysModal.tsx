/** The help panel listing every keyboard shortcut. */
import { Modal } from '../../common/components/Modal';
import { HOTKEYS } from '../tabs/hotkeys';

export function HotkeysModal({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} testId="hotkeys-modal">
      <p className="hint">In the prompt, Enter invokes and Shift+Enter starts a new line.</p>
      <table className="hotkeys">
        <tbody>
          {HOTKEYS.map((h) => (
            <tr key={h.action}>
              <td>
                <kbd>{h.keys}</kbd>
              </td>
              <td>{h.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}
