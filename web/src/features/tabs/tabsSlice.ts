/** State of the tab bar: which mode (Text to Image, Image to Image, Inpainting, Outpainting, Unified Canvas, Postprocessing) the workspace shows. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

/** The workspace's modes, one per tab. */
export type ActiveTab = 'txt2img' | 'img2img' | 'inpainting' | 'outpainting' | 'canvas' | 'postprocessing';

export interface TabsState {
  activeTab: ActiveTab;
}

export const initialTabsState: TabsState = { activeTab: 'txt2img' };

export const TABS: ReadonlyArray<{ id: ActiveTab; label: string; tooltip: string }> = [
  { id: 'txt2img', label: 'Text to Image', tooltip: 'Text to Image: generate images from a text prompt.' },
  {
    id: 'img2img',
    label: 'Image to Image',
    tooltip:
      'Image to Image: start from an uploaded image (drawing or photograph) and generate a new one, modified by the prompt. Transparent areas are inpainted.',
  },
  {
    id: 'inpainting',
    label: 'Inpainting',
    tooltip: 'Inpainting: paint a mask over part of an image and regenerate just that part from the prompt.',
  },
  {
    id: 'outpainting',
    label: 'Outpainting',
    tooltip:
      'Outpainting: add blank space to the borders of an image and fill it in from the prompt. Outpaint again to keep growing the picture.',
  },
  {
    id: 'canvas',
    label: 'Unified Canvas',
    tooltip:
      'Unified Canvas: a large canvas to place images on and generate, vary, inpaint or outpaint inside a movable box.',
  },
  {
    id: 'postprocessing',
    label: 'Postprocessing',
    tooltip:
      'Postprocessing: upscale and restore faces in one or many gallery images (Ctrl/Cmd-click or Shift-click thumbnails to select several).',
  },
];

const tabsSlice = createSlice({
  name: 'tabs',
  initialState: initialTabsState,
  reducers: {
    tabSelected: (state, action: PayloadAction<ActiveTab>) => {
      state.activeTab = action.payload;
    },
  },
});

export const { tabSelected } = tabsSlice.actions;
export default tabsSlice.reducer;
