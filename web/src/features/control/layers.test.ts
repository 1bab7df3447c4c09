import { afterEach, describe, expect, it } from 'vitest';
import { connectedStore, flush } from '../../../test/fakeSocket';
import { demoConfig } from '../../../test/demoConfig';
import { CONTROL_DROPPED_EVENT, DROP_DESTINATION_KEY, DROP_UNIT_KEY, markDrop, type DesktopApi } from '../../app/desktopBridge';
import { draggedPlacement } from './ControlLayers';
import { unitAdded, unitPlacedOnCanvas, unitRemoved } from './controlSlice';
import { chooseControlPictureNative, controlPictureDropped } from './controlThunks';

const config = demoConfig();

function storeWithUnit() {
  const { socket, store } = connectedStore();
  socket.serve('systemConfig', config);
  store.dispatch(unitAdded('canny15', 4));
  return { socket, store, id: store.getState().control.units[0].id };
}

describe('dragging a control layer', () => {
  it('moves it by the pointer’s travel in whole canvas pixels, at any zoom', () => {
    expect(draggedPlacement({ x: 64, y: 32 }, 40, -24, 1)).toEqual({ x: 104, y: 8 });
    expect(draggedPlacement({ x: 64, y: 32 }, 40, -24, 2)).toEqual({ x: 84, y: 20 });
    expect(draggedPlacement({ x: 0, y: 0 }, 10, 10, 0.25)).toEqual({ x: 40, y: 40 });
    expect(draggedPlacement({ x: 5, y: 5 }, 0.6, -0.6, 1)).toEqual({ x: 6, y: 4 });
  });
});

describe('the desktop window and a control unit', () => {
  const global = globalThis as { window?: unknown };
  afterEach(() => {
    delete global.window;
  });

  it('the native dialog asks the bridge for a control picture, kept out of the gallery', async () => {
    const { store, id } = storeWithUnit();
    const asked: unknown[][] = [];
    const api: DesktopApi = {
      openImage: async (...args: unknown[]) => {
        asked.push(args);
        return { url: 'outputs/control-images/pose.1.png', width: 40, height: 24, destination: 'control' } as never;
      },
    };
    global.window = { pywebview: { api } };
    await store.dispatch(chooseControlPictureNative(id));
    expect(asked).toEqual([['control']]);
    expect(store.getState().control.units[0].image).toEqual({ url: 'outputs/control-images/pose.1.png', width: 40, height: 24 });
    expect(store.getState().gallery.categories.user.images).toEqual([]);
  });

  it('a drop on a unit is marked for the native layer, whose answer makes the picture that unit’s', async () => {
    const event = { type: 'drop' } as Record<string, unknown>;
    markDrop(event, 'control', 'unit-3');
    expect(event).toEqual({ type: 'drop', [DROP_DESTINATION_KEY]: 'control', [DROP_UNIT_KEY]: 'unit-3' });
    expect(CONTROL_DROPPED_EVENT).toBe('controlImageDropped');

    const { store, id } = storeWithUnit();
    store.dispatch(controlPictureDropped({ unit: id, image: { url: 'outputs/control-images/edges.2.png', width: 40, height: 24 } }));
    expect(store.getState().control.units[0].image?.url).toBe('outputs/control-images/edges.2.png');
    expect(store.getState().gallery.categories.user.images).toEqual([]);

    // Answers that name no unit of the section change nothing; a removed unit is said to be gone.
    store.dispatch(controlPictureDropped({ image: { url: 'outputs/control-images/x.png' } }));
    store.dispatch(unitPlacedOnCanvas({ id, at: { x: 8, y: 8 } }));
    store.dispatch(unitRemoved(id));
    store.dispatch(controlPictureDropped({ unit: id, image: { url: 'outputs/control-images/y.png' } }));
    await flush();
    expect(store.getState().control.units).toEqual([]);
    expect(store.getState().system.toasts.at(-1)?.message).toMatch(/unit the picture was dropped on has been removed/);
  });
});
