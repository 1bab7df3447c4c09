/** The mode tabs at the left edge: Text to Image, Image to Image, Outpainting and Postprocessing. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { ImageToImageIcon, TextToImageIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { OutpaintingIcon } from '../outpainting/OutpaintingIcon';
import { PostprocessingIcon } from '../postprocessing/PostprocessingIcon';
import { InpaintingIcon, UnifiedCanvasIcon } from '../canvas/icons';
import { TABS, tabSelected } from './tabsSlice';

const ICONS = {
  txt2img: TextToImageIcon,
  img2img: ImageToImageIcon,
  outpainting: OutpaintingIcon,
  postprocessing: PostprocessingIcon,
  inpainting: InpaintingIcon,
  canvas: UnifiedCanvasIcon,
} as const;

export function TabBar() {
  const dispatch = useAppDispatch();
  const active = useAppSelector((s) => s.tabs.activeTab);
  return (
    <nav className="tab-bar" role="tablist" aria-label="Mode" aria-orientation="vertical">
      {TABS.map((tab, i) => {
        const Icon = ICONS[tab.id];
        return (
          <Tooltip key={tab.id} label={`${tab.tooltip} (${i + 1})`} placement="right">
            <button
              type="button"
              role="tab"
              aria-selected={active === tab.id}
              aria-label={tab.label}
              className={`tab ${active === tab.id ? 'tab--active' : ''}`}
              onClick={() => dispatch(tabSelected(tab.id))}
              data-testid={`tab-${tab.id}`}
            >
              <Icon size={22} />
              <span className="tab__label">{tab.label}</span>
            </button>
          </Tooltip>
        );
      })}
    </nav>
  );
}
