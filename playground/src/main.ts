import { mount } from 'svelte'
import App from './App.svelte'
import './app.css'

mount(App, { target: document.getElementById('app')! })

// Offline after the first load, and cross-origin isolation on static hosts that cannot send
// COOP/COEP headers: the service worker caches what the page loads and adds the headers.
if (!import.meta.hot && 'serviceWorker' in navigator) { // not under the dev server
  navigator.serviceWorker.register(new URL('./sw.js', location.href), { scope: './' }).catch(() => {})
  // First visit on a host without the headers: reload once, through the worker, to get them.
  if (!crossOriginIsolated && !sessionStorage.getItem('coi-reloaded')) {
    const reload = () => {
      sessionStorage.setItem('coi-reloaded', '1')
      location.reload()
    }
    if (navigator.serviceWorker.controller) reload()
    else navigator.serviceWorker.addEventListener('controllerchange', reload, { once: true })
  }
}
