-- Stored registration answers kept the webhook secret (sealed) and a replay showed it again; the
-- secret is now shown in the first answer only (issue 18, item 2).
UPDATE idempotency_keys SET response = response - 'sealedWebhookSecret' - 'webhookSecret'
WHERE response ? 'sealedWebhookSecret' OR response ? 'webhookSecret';
