"""iTrash: 24-hour smart garbage and recycling stations paid with stored-value cards.

This first part holds the pure rules (tariffs, rebates, the card interface and its simulated
EasyCard, reconciliation). Routes, the kiosk program and the ledger tables come next."""

from onecity.core.modules import Module

MODULE = Module(name="waste")
