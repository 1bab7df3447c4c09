/** The Unified Canvas's control layers: each placed unit's control picture, semi-transparent, where it lies. */
import { useAppSelector } from '../../app/hooks';

export function ControlLayers() {
  const units = useAppSelector((s) => s.control.units);
  const visible = useAppSelector((s) => s.control.isLayerVisible);
  const enabled = useAppSelector((s) => s.control.enabled);
  const placed = units.filter((u) => u.onCanvas && u.image);
  if (placed.length === 0) return null;
  return (
    <div className="control-layers" style={{ visibility: visible && enabled ? 'visible' : 'hidden' }} data-testid="control-layers" data-count={placed.length}>
      {placed.map((u) => (
        <img
          key={u.id}
          className="control-layers__picture"
          src={u.image?.url}
          alt=""
          draggable={false}
          style={{ left: u.onCanvas?.x, top: u.onCanvas?.y, width: u.image?.width, height: u.image?.height }}
          data-testid="control-layer"
          data-url={u.image?.url}
        />
      ))}
    </div>
  );
}
