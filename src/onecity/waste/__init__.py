"""iTrash: 24-hour smart garbage and recycling stations paid with stored-value cards.

domain.py holds the pure money rules, cards.py the card interface and its simulated EasyCard,
service.py the server ledger, api.py its routes and kiosk/ the station program."""

from onecity.core.modules import Module
from onecity.waste import api

MODULE = Module(name="waste", routers=(api.router,))
