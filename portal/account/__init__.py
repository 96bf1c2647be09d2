"""The customer's account under the portal token: home, activity lists, exports, receipts."""
