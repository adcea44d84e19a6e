/**
 * Backorder Automator events: a User Event script that posts each inventory change to the
 * product's webhook endpoint, signed (seed: "SuiteScript event trigger on Inventory Level change").
 *
 * Deploy on Inventory Item, Inventory Adjustment, Inventory Transfer, Item Receipt and Item
 * Fulfillment (event types create, edit, xedit). Script parameters:
 *   custscript_ba_webhook_url   https://<our host>/webhooks/<store key>
 *   custscript_ba_secret_id     the id of an API secret (Setup > Company > API Secrets, e.g.
 *                               custsecret_ba_webhook) holding the store's webhook_secret;
 *                               the script must be allowed to use it.
 * Each POST carries {"items": [rows as the RESTlet's GET action=stock gives them]} for the items the
 * record touched, and the headers
 *   X-Backorders-Topic: inventory.changed (a transaction) | item.modified (the item record itself)
 *   X-Backorders-Event-Id: <record type>:<record id>:<epoch ms>   (the delivery id, deduplicated)
 *   X-Backorders-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>
 * HMAC through N/crypto (createSecretKey with an API secret, createHmac, digest as HEX):
 * https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4358549582.html
 * A failed POST is logged and left to the product's next poll (the RESTlet's changes read).
 *
 * @NApiVersion 2.1
 * @NScriptType UserEventScript
 */
define(['N/https', 'N/crypto', 'N/encode', 'N/query', 'N/runtime', 'N/log'],
    (https, crypto, encode, query, runtime, log) => {
    const FORMAT = 'YYYY-MM-DD HH24:MI:SS';

    const touchedItems = (rec) => {
        if (rec.type === 'inventoryitem') return [rec.id];
        const ids = new Set();
        ['item', 'inventory'].forEach((sublist) => {
            const lines = rec.getLineCount({sublistId: sublist});
            for (let line = 0; line < lines; line += 1) {
                const id = rec.getSublistValue({sublistId: sublist, fieldId: 'item', line: line});
                if (id) ids.add(String(id));
            }
        });
        return [...ids];
    };

    const rows = (ids) => query.runSuiteQL({query: `SELECT item.id AS item_id, item.itemid AS sku,
            iil.location AS location_id, iil.quantityonhand AS on_hand, iil.quantityavailable AS available,
            iil.quantitycommitted AS committed, iil.quantitybackordered AS backordered,
            TO_CHAR(SYSDATE, '${FORMAT}') AS modified
        FROM item INNER JOIN inventoryitemlocations iil ON iil.item = item.id
        WHERE item.itemtype = 'InvtPart' AND item.id IN (${ids.map(() => '?').join(', ')})
        ORDER BY item.id, iil.location`, params: ids}).asMappedResults();

    const afterSubmit = (context) => {
        const script = runtime.getCurrentScript();
        const address = script.getParameter({name: 'custscript_ba_webhook_url'});
        const secretId = script.getParameter({name: 'custscript_ba_secret_id'});
        const ids = touchedItems(context.newRecord).slice(0, 500);
        if (!address || !secretId || ids.length === 0) return;
        const body = JSON.stringify({items: rows(ids)});
        const hmac = crypto.createHmac({algorithm: crypto.HashAlg.SHA256,
                                        key: crypto.createSecretKey({secret: secretId, encoding: encode.Encoding.UTF_8})});
        hmac.update({input: body, inputEncoding: encode.Encoding.UTF_8});
        const topic = context.newRecord.type === 'inventoryitem' ? 'item.modified' : 'inventory.changed';
        try {
            const answer = https.post({url: address, body: body, headers: {
                'Content-Type': 'application/json', 'X-Backorders-Topic': topic,
                'X-Backorders-Event-Id': `${context.newRecord.type}:${context.newRecord.id}:${Date.now()}`,
                'X-Backorders-Signature': 'sha256=' + hmac.digest({outputEncoding: encode.Encoding.HEX}).toLowerCase()}});
            if (answer.code >= 300) log.error({title: 'backorders webhook refused', details: `${answer.code} ${answer.body}`});
        } catch (e) {
            log.error({title: 'backorders webhook not delivered', details: e.message});
        }
    };

    return {afterSubmit: afterSubmit};
});
