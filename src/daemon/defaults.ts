// Where the daemon serves and keeps its state unless told otherwise: constants the commands read without loading
// the daemon itself.
export const DEFAULT_PLUGIN_SOCKET = '/run/docker/plugins/cantainer.sock';
export const DEFAULT_STATE_DIR = '/var/lib/cantainer';
