import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { ClassificationProvider } from './classification.js';
import { SessionProvider } from './session.js';
import './styles.css';

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <SessionProvider>
      <ClassificationProvider>
        <App />
      </ClassificationProvider>
    </SessionProvider>
  </StrictMode>,
);
