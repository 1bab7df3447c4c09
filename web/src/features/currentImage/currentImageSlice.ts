/** State of the current-image panel: the live preview while generating and the metadata viewer. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { ImageInfo } from '../../app/protocol';

export interface CurrentImageState {
  intermediateImage: ImageInfo | null;
  isMetadataOpen: boolean;
  /** The image awaiting the user's delete confirmation. */
  imageToDelete: ImageInfo | null;
}

export const initialCurrentImageState: CurrentImageState = {
  intermediateImage: null,
  isMetadataOpen: false,
  imageToDelete: null,
};

const currentImageSlice = createSlice({
  name: 'currentImage',
  initialState: initialCurrentImageState,
  reducers: {
    intermediateReceived: (state, action: PayloadAction<ImageInfo>) => {
      state.intermediateImage = action.payload;
    },
    intermediateCleared: (state) => {
      state.intermediateImage = null;
    },
    deleteConfirmationShown: (state, action: PayloadAction<ImageInfo | null>) => {
      state.imageToDelete = action.payload;
    },
    metadataToggled: (state, action: PayloadAction<boolean | undefined>) => {
      state.isMetadataOpen = action.payload ?? !state.isMetadataOpen;
    },
  },
});

export const { intermediateReceived, intermediateCleared, metadataToggled, deleteConfirmationShown } =
  currentImageSlice.actions;
export default currentImageSlice.reducer;
