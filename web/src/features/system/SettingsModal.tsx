/** The settings dialog: delete confirmation, live preview style, intermediates interval, the prompt syntax, and
 * (desktop) the output folder. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Modal } from '../../common/components/Modal';
import { NumberField, SelectField, SwitchField } from '../../common/components/Fields';
import type { PreviewStyle } from '../../common/util/parameterTranslation';
import { errorOccurred, settingChanged } from './systemSlice';
import { resetOptions, setOption } from '../options/optionsSlice';
import type { PromptSyntax } from '../../app/protocol';
import { chooseOutputFolderNative, hasDesktopBridge } from '../../app/desktopBridge';
import { Tooltip } from '../../common/components/Tooltip';
import { modelsDialogOpened } from '../models/modelsSlice';

/** The desktop window's native folder picker for where images are saved; nothing in a browser. */
export function OutputFolderSetting() {
  const dispatch = useAppDispatch();
  if (!hasDesktopBridge()) return null;
  return (
    <div className="settings__reset">
      <p>Choose the folder new images are saved in; the gallery then shows that folder.</p>
      <Tooltip label="Output folder…: pick the folder generated images are saved in.">
        <button
          type="button"
          className="button"
          data-testid="choose-output-folder"
          // A failed call answers {error} after the server's toast; only a broken bridge rejects.
          onClick={() =>
            chooseOutputFolderNative().catch(() => dispatch(errorOccurred('The desktop window did not answer; try again.')))
          }
        >
          Output folder…
        </button>
      </Tooltip>
    </div>
  );
}

const PROMPT_SYNTAX_CHOICES: ReadonlyArray<{ value: PromptSyntax; label: string }> = [
  { value: 'invoke', label: 'InvokeAI 2.x (a:1.2 b, [negative])' },
  { value: 'a1111', label: 'AUTOMATIC1111 ((a:1.2), [less], [from:to:when])' },
];

const PREVIEW_STYLES: ReadonlyArray<{ value: PreviewStyle; label: string }> = [
  { value: 'latents', label: 'Fast (latents)' },
  { value: 'full', label: 'Full quality (decoded)' },
  { value: 'none', label: 'None' },
];

export function SettingsModal({ onClose }: { onClose: () => void }) {
  const dispatch = useAppDispatch();
  const confirm = useAppSelector((s) => s.system.shouldConfirmOnDelete);
  const previewStyle = useAppSelector((s) => s.system.previewStyle);
  const interval = useAppSelector((s) => s.system.saveIntermediatesInterval);
  const promptSyntax = useAppSelector((s) => s.options.promptSyntax);
  return (
    <Modal title="Settings" onClose={onClose} testId="settings-modal">
      <div className="settings">
        <SwitchField
          label="Confirm on delete"
          tooltip="Ask before deleting an image. Deleted images go to the system trash."
          checked={confirm}
          onChange={(v) => dispatch(settingChanged({ shouldConfirmOnDelete: v }))}
          testId="setting-confirm-delete"
        />
        <SelectField
          label="Live preview"
          tooltip="What the current-image panel shows while generating: a fast approximation from the latents every step, a fully decoded image every N steps (slower), or nothing."
          value={previewStyle}
          options={PREVIEW_STYLES}
          onChange={(v) => dispatch(settingChanged({ previewStyle: v }))}
          testId="setting-preview-style"
        />
        <NumberField
          label="Save intermediates every N steps"
          tooltip="With full-quality previews, decode and save an intermediate image every N steps (into outputs/intermediates)."
          value={interval}
          min={1}
          max={100}
          step={1}
          normalize={Math.round}
          disabled={previewStyle !== 'full'}
          onChange={(v) => dispatch(settingChanged({ saveIntermediatesInterval: v }))}
          testId="setting-intermediates"
        />
        <SelectField
          label="Prompt syntax"
          tooltip="How prompts are read. InvokeAI 2.x: 'a cat:1.5 a dog:0.5' weights sub-prompts and [words] are the negative prompt. AUTOMATIC1111: (word) and (word:1.3) emphasise, [word] de-emphasises, [from:to:when] and [a|b] change the prompt during the steps, BREAK starts a new chunk, and the negative prompt has its own box. Use All restores the syntax an image was made with."
          value={promptSyntax}
          options={PROMPT_SYNTAX_CHOICES}
          onChange={(v) => dispatch(setOption('promptSyntax', v))}
          testId="setting-prompt-syntax"
        />
        <OutputFolderSetting />
        <div className="settings__reset">
          <p>Add, scan for, load and remove models.</p>
          <Tooltip label="Open the Models dialog.">
            <button
              type="button"
              className="button"
              data-testid="settings-open-models"
              onClick={() => {
                onClose();
                dispatch(modelsDialogOpened());
              }}
            >
              Models…
            </button>
          </Tooltip>
        </div>
        <div className="settings__reset">
          <p>Reset every control-panel setting to its default.</p>
          <button type="button" className="button" onClick={() => dispatch(resetOptions())}>
            Reset parameters
          </button>
        </div>
      </div>
    </Modal>
  );
}
