-- A subscriber told of an alert is told when it is withdrawn: `retracted` joins the default
-- event kinds (alerts.models.DEFAULT_EVENT_KINDS). Subscriptions stored with exactly the old
-- default list get it too; a subscription whose kinds were chosen otherwise keeps them. (A
-- list chosen explicitly but equal to the old default cannot be told apart from the default.)
-- A retraction still reaches only those who were sent the alert (alerts/matching.py).
ALTER TABLE subscriptions ALTER COLUMN kinds
    SET DEFAULT ['opened', 'escalated', 'resolved', 'retracted'];

UPDATE subscriptions SET kinds = ['opened', 'escalated', 'resolved', 'retracted']
WHERE kinds = ['opened', 'escalated', 'resolved'] AND deleted_at IS NULL;
