import type { AccessStore, CatalogStore, Store } from '@flowpilot/store';

/** What the server needs of a store: execution and catalog. */
export type ServerStore = Store & CatalogStore & AccessStore;
