<?php
/**
 * Installs WordPress without a browser - what wp-admin/install.php does -
 * then activates the Akismet plugin and ours and configures ours:
 *
 *   php install.php DOCROOT
 *
 * with WP_URL, WP_ADMIN_PASSWORD, MODERATION_URL, MODERATION_KEY and
 * MODERATION_SECRET in the environment. Used by `make test-wordpress`.
 */

$docroot = $argv[1];
$url = getenv( 'WP_URL' );
$_SERVER['HTTP_HOST'] = parse_url( $url, PHP_URL_HOST ) . ':' . parse_url( $url, PHP_URL_PORT );
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';

define( 'WP_INSTALLING', true );
require $docroot . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

if ( is_blog_installed() ) {
	fwrite( STDERR, "already installed\n" );
	exit( 1 );
}
$installed = wp_install( 'Moderation test blog', 'admin', 'admin@example.com', false, '', getenv( 'WP_ADMIN_PASSWORD' ) );
// Every visitor of the test is new: no "previously approved author" hold.
update_option( 'comment_previously_approved', 0 );
// Blatant spam kept in the Spam folder (where "Not spam" can be clicked), not discarded.
update_option( 'akismet_strictness', '0' );
update_option(
	'comment_moderation_service',
	array(
		'url'    => getenv( 'MODERATION_URL' ),
		'key'    => getenv( 'MODERATION_KEY' ),
		'secret' => getenv( 'MODERATION_SECRET' ),
	)
);
foreach ( array( 'akismet/akismet.php', 'comment-moderation.php' ) as $plugin ) {
	$activated = activate_plugin( $plugin );
	if ( is_wp_error( $activated ) ) {
		fwrite( STDERR, "$plugin: " . $activated->get_error_message() . "\n" );
		exit( 1 );
	}
}
echo 'installed: user ' . $installed['user_id'] . ', plugins ' . implode( ' ', get_option( 'active_plugins' ) ) . PHP_EOL;
