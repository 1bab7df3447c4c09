/** Entry point: the socket, the store and the React tree. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Provider } from 'react-redux';
import { App } from './app/App';
import { createStore } from './app/store';
import { createSocket } from './app/socketio/middleware';
import { browserClientId } from './app/persistence';
import './styles/theme.css';
// Each feature's rules and the shared components', in the cascade order the page was designed in; the
// page layout last, so that its narrow-width rules win. (Feature workspaces also import their own files.)
import './features/system/header.css';
import './common/components/buttons.css';
import './features/tabs/tabs.css';
import './features/options/options.css';
import './features/queue/queue.css';
import './features/workers/workers.css';
import './features/currentImage/currentImage.css';
import './features/gallery/gallery.css';
import './common/components/overlays.css';
import './styles/app.css';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

const store = createStore(createSocket(browserClientId(storage())), storage());
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Provider store={store}>
        <App />
      </Provider>
    </StrictMode>,
  );
}
