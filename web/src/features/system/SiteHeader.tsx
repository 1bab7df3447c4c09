/** The header: app name and version, model picker, connection status and the global buttons. */
import { useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { requestModelChange } from '../../app/socketio/actions';
import { IconButton } from '../../common/components/IconButton';
import { HelpIcon, KeyboardIcon, LogoMark, MoonIcon, SettingsIcon, SunIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { activeModelName, isDemoModel, themeSet } from './systemSlice';
import { SettingsModal } from './SettingsModal';
import { HotkeysModal } from './HotkeysModal';
import { ModelsDialog, ModelsIcon } from '../models/ModelsDialog';
import { modelsDialogOpened } from '../models/modelsSlice';
import { version as UI_VERSION } from '../../../package.json';

export const HELP_URL = 'https://invoke-ai.github.io/InvokeAI/features/WEB/';

interface SiteHeaderProps {
  isHotkeysOpen: boolean;
  onHotkeysOpenChange: (open: boolean) => void;
}

export function SiteHeader({ isHotkeysOpen, onHotkeysOpenChange }: SiteHeaderProps) {
  const dispatch = useAppDispatch();
  const config = useAppSelector((s) => s.system.config);
  const isConnected = useAppSelector((s) => s.system.isConnected);
  const hasEverConnected = useAppSelector((s) => s.system.hasEverConnected);
  const isProcessing = useAppSelector((s) => s.system.isProcessing);
  const isModelChanging = useAppSelector((s) => s.system.isModelChanging);
  const theme = useAppSelector((s) => s.system.theme);
  const [isSettingsOpen, setSettingsOpen] = useState(false);
  const isModelsOpen = useAppSelector((s) => s.models.isOpen);

  const activeModel = activeModelName(config);
  const models = config ? Object.entries(config.model_list) : [];
  const activeEntry = activeModel && config ? config.model_list[activeModel] : undefined;
  const demo = activeModel !== null && isDemoModel(activeModel, activeEntry?.description);
  // Until the first model is loaded the server knows no models yet: the picker says so, not "No models".
  const firstLoad = !config || config.model_loaded === false;
  const statusText = isConnected ? 'Connected' : hasEverConnected ? 'Disconnected' : 'Connecting';

  return (
    <header className="site-header">
      <div className="site-header__brand">
        <LogoMark />
        <span className="site-header__name">
          invoke <strong>ai</strong>
        </span>
        {/* Its room is kept from the first paint (with the bundle's own version, hidden, until the server
            names its own), so the badge arriving with systemConfig moves nothing beside it. */}
        <span className="site-header__version" data-testid="app-version" style={config ? undefined : { visibility: 'hidden' }}>
          v{config?.app_version ?? UI_VERSION}
        </span>
      </div>
      <div className="site-header__model">
        <Tooltip label="The Stable Diffusion model that generates your images. Switching loads the chosen model; recently used ones stay cached in memory.">
          <select
            className="model-picker"
            aria-label="Model"
            data-testid="model-picker"
            value={activeModel ?? ''}
            disabled={!isConnected || isModelChanging || isProcessing || models.length === 0}
            onChange={(e) => dispatch(requestModelChange(e.target.value))}
          >
            {models.length === 0 && <option value="">{firstLoad ? 'Loading model…' : 'No models'}</option>}
            {models.map(([name, entry]) => (
              <option key={name} value={name}>
                {name}
                {entry.status === 'cached' ? ' (cached)' : ''}
              </option>
            ))}
          </select>
        </Tooltip>
        <IconButton
          label="Manage models…"
          tooltip="Manage models: add a checkpoint or diffusers folder, scan an AUTOMATIC1111 or ComfyUI folder, load or remove models."
          icon={<ModelsIcon />}
          variant="ghost"
          className="site-header__manage-models"
          onClick={() => dispatch(modelsDialogOpened())}
          data-testid="open-models"
        />
        {isModelChanging && <span className="spinner" aria-label="Loading model" />}
        {demo && (
          <Tooltip label="This is the built-in demo model: it has random weights, so its images are coloured noise. Run invokeai-configure to download Stable Diffusion 1.5, or add your own model to models.yaml.">
            <span className="demo-badge" data-testid="demo-notice">
              Demo model: random weights
            </span>
          </Tooltip>
        )}
      </div>
      <div className="site-header__actions">
        <Tooltip label={isConnected ? 'Connected to the InvokeAI server.' : 'The server cannot be reached; reconnecting by itself.'}>
          <span
            className={`connection-status ${isConnected ? 'connection-status--ok' : hasEverConnected ? 'connection-status--down' : ''}`}
            data-testid="connection-status"
            role="status"
          >
            <span className="connection-status__dot" aria-hidden="true" />
            <span className="connection-status__text">{statusText}</span>
          </span>
        </Tooltip>
        <IconButton
          label="Settings"
          tooltip="Settings: delete confirmation, live preview style, intermediate images."
          icon={<SettingsIcon />}
          variant="ghost"
          onClick={() => setSettingsOpen(true)}
          data-testid="open-settings"
        />
        <IconButton
          label="Keyboard shortcuts"
          tooltip="Keyboard shortcuts (?)"
          icon={<KeyboardIcon />}
          variant="ghost"
          onClick={() => onHotkeysOpenChange(true)}
          data-testid="open-hotkeys"
        />
        <Tooltip label="Open the InvokeAI web UI guide in a new tab." placement="bottom">
          <a className="icon-button icon-button--ghost icon-button--md" href={HELP_URL} target="_blank" rel="noreferrer" aria-label="Help">
            <HelpIcon />
          </a>
        </Tooltip>
        <IconButton
          label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
          icon={theme === 'dark' ? <SunIcon /> : <MoonIcon />}
          variant="ghost"
          onClick={() => dispatch(themeSet(theme === 'dark' ? 'light' : 'dark'))}
          data-testid="theme-toggle"
        />
      </div>
      {isSettingsOpen && <SettingsModal onClose={() => setSettingsOpen(false)} />}
      {isHotkeysOpen && <HotkeysModal onClose={() => onHotkeysOpenChange(false)} />}
      {isModelsOpen && <ModelsDialog />}
    </header>
  );
}
