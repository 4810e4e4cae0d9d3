// Start the NHS.UK frontend components (radios with conditional questions, error summary focus, header menu).
import { initAll } from '/vendor/nhsuk/nhsuk-frontend.min.js'

initAll()
