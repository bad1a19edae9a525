"""The iTrash station ("kiosk") software.

It drives the station's hardware behind interfaces (`hardware`), runs each citizen's visit as
an explicit state machine (`machine`), keeps every card write in its own SQLite journal before
anything else happens (`journal`), and uploads the journal to the server whenever the server
answers (`uploader`), so the station keeps working for days without the network. `sim` holds
simulated citizens and their cards; `cli` is the `onecity kiosk` command.

The station speaks the protocol in docs/waste-terminal-api.md and reuses the money rules of
`onecity.waste.rules.money` and the card interface of `onecity.waste.kiosk.cards`."""

SOFTWARE = "onecity-kiosk 0.1"
