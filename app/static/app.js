// Start the NHS.UK frontend components (radios with conditional questions, error summary focus, header menu).
import { initAll } from '/vendor/nhsuk/nhsuk-frontend.min.js'

initAll()

// Questions asked after any one of several answers (a standards condition with more than one value): the
// NHS.UK radios reveal a block from one radio only, so the radios that share a block name it in
// data-app-reveals, and the block is shown, with the same classes, while one of them is checked. (No
// aria-controls on them: the NHS.UK radios would take each for the only radio opening its block.)
const HIDDEN = 'nhsuk-radios__conditional--hidden'

function syncSharedReveals (name, form) {
  const radios = Array.from(document.querySelectorAll('input[type="radio"]'))
    .filter((radio) => radio.name === name && radio.form === form)
  const targets = new Set(radios.flatMap((radio) => (radio.dataset.appReveals || '').split(' ').filter(Boolean)))
  for (const id of targets) {
    const block = document.getElementById(id)
    if (!block) continue
    const openers = radios.filter((radio) => (radio.dataset.appReveals || '').split(' ').includes(id))
    const open = openers.some((radio) => radio.checked)
    block.classList.toggle(HIDDEN, !open)
    for (const radio of openers) radio.setAttribute('aria-expanded', String(radio.checked))
  }
}

function syncAllSharedReveals () {
  const groups = new Map()
  for (const radio of document.querySelectorAll('input[type="radio"][data-app-reveals]')) groups.set(radio.name, radio)
  for (const radio of groups.values()) syncSharedReveals(radio.name, radio.form)
}

if (document.querySelector('[data-app-reveals]')) {
  document.addEventListener('change', (event) => {
    const radio = event.target
    if (radio instanceof HTMLInputElement && radio.type === 'radio') syncSharedReveals(radio.name, radio.form)
  })
  window.addEventListener('pageshow', syncAllSharedReveals)
  syncAllSharedReveals()
}
