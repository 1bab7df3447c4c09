/** The systemConfig a test's fake server sends: the demo model, an SD 1.x ControlNet, and what the test adds. */
import type { SystemConfig } from '../src/app/protocol';

export function demoConfig(extra: Partial<SystemConfig> = {}): SystemConfig {
  return {
    model: 'demo',
    model_id: 'demo',
    model_hash: '',
    app_id: 'x',
    app_version: '2.2.0',
    model_list: { demo: { status: 'active', description: 'demo', family: 'sd1' } },
    control_models: { canny15: { family: 'sd1' } },
    ...extra,
  };
}
