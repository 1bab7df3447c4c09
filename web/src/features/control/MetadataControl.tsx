/** The metadata viewer's Control part: each recorded unit with its control picture and the map it steered
 * with, and a button that loads the units into the Control section. */
import { useAppDispatch } from '../../app/hooks';
import type { ImageInfo } from '../../app/protocol';
import { Tooltip } from '../../common/components/Tooltip';
import { outputImageUrl } from '../../common/util/parameterTranslation';
import { toastAdded } from '../system/systemSlice';
import { unitsRecalled } from './controlSlice';
import { describeRecordedUnit, recallUnits } from './units';
import './control.css';

export function MetadataControl({ image }: { image: ImageInfo }) {
  const dispatch = useAppDispatch();
  const recorded = image.metadata.image?.control;
  if (!Array.isArray(recorded) || recorded.length === 0) return null;
  const use = () => {
    const units = recallUnits(image);
    dispatch(unitsRecalled(units));
    dispatch(toastAdded({ kind: 'success', message: `Loaded ${units.length === 1 ? 'the control unit' : `the ${units.length} control units`} of this image.` }));
  };
  return (
    <section className="metadata__control" data-testid="metadata-control">
      <h4>Control units</h4>
      {recorded.map((unit, i) => (
        <div className="metadata__control-unit" key={i} data-testid="metadata-control-unit">
          {unit.image_path && <img src={outputImageUrl(unit.image_path)} alt={`Control picture of unit ${i + 1}`} />}
          {unit.map_path && <img src={outputImageUrl(unit.map_path)} alt={`Map of unit ${i + 1}`} data-testid="metadata-control-map" />}
          <span>{describeRecordedUnit(unit)}</span>
        </div>
      ))}
      <Tooltip label="Load these units (their pictures and settings) into the Control section; Use All loads them with everything else.">
        <button type="button" className="button button--small" onClick={use} data-testid="metadata-use-control">
          Use these control units
        </button>
      </Tooltip>
    </section>
  );
}
