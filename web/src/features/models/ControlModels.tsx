/** The Models dialog's list of control models (ControlNets and T2I-Adapters) with their kind and family. */
import { useAppSelector } from '../../app/hooks';
import { controlFacts, familyName } from '../control/units';

export function ControlModels() {
  const config = useAppSelector((s) => s.system.config);
  const { models } = controlFacts(config);
  if (models.length === 0) return null;
  return (
    <section className="models__control" aria-label="Control models">
      <h3>Control models</h3>
      <ul className="models__list" data-testid="control-models-list">
        {[...models]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((m) => (
            <li key={m.name} className="models__row" data-testid="control-model-row" data-model={m.name}>
              <div className="models__row-main">
                <div className="models__row-title">
                  <span className="models__name">{m.name}</span>
                  <span className="models__tag" data-testid="control-model-kind">
                    {m.kind}
                  </span>
                  <span className="models__tag" data-testid="control-model-family">
                    {familyName(m.family)}
                  </span>
                </div>
                {(m.unavailable || m.description) && (
                  <div className="models__description" title={m.unavailable ?? m.description}>
                    {m.unavailable ?? m.description}
                  </div>
                )}
              </div>
            </li>
          ))}
      </ul>
    </section>
  );
}
