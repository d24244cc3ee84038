<?php
/**
 * The webhook signature check, without WordPress: `php tests/signature.php`
 * exits 0 when every case holds. The signatures are made as the service
 * makes them (moderation/webhooks.py: HMAC-SHA256 over "<t>." . body).
 */

define( 'COMMENT_MODERATION_TEST', true );
require dirname( __DIR__ ) . '/comment-moderation.php';

$failures = 0;

function check( $what, $ok ) {
	global $failures;
	echo ( $ok ? 'ok     ' : 'FAILED ' ) . $what . PHP_EOL;
	$failures += $ok ? 0 : 1;
}

function signed( $secret, $body, $t ) {
	return 't=' . $t . ',v1=' . hash_hmac( 'sha256', $t . '.' . $body, $secret );
}

$secret = 'whsec_0123456789abcdef';
$body = '{"event": "blog.example:1764064800123-0", "type": "decision", "site": "blog.example", "id": "1001", "guid": "0b6f0c3e", "verdict": "ham"}';
$now = 1764064800;

check( 'a correct, fresh signature passes', Comment_Moderation::verify( $secret, $body, signed( $secret, $body, $now - 2 ), $now ) );
// A header made by the service itself: moderation.webhooks.sign('whsec_test', body, 1764064800).
check( 'a signature made by the service passes', Comment_Moderation::verify( 'whsec_test', '{"verdict": "ham"}',
	't=1764064800,v1=435cf7054001691ca4a26ecf133cd1cc5eb0e4450e1f74a04aa12005a35eb97e', 1764064800 + 60 ) );
check( 'a wrong secret fails', ! Comment_Moderation::verify( $secret, $body, signed( 'whsec_other', $body, $now ), $now ) );
check( 'a changed body fails', ! Comment_Moderation::verify( $secret, $body . ' ', signed( $secret, $body, $now ), $now ) );
check( 'a wrong hex fails', ! Comment_Moderation::verify( $secret, $body, 't=' . $now . ',v1=' . str_repeat( '0', 64 ), $now ) );
check( 'a replayed signature (an hour old) fails', ! Comment_Moderation::verify( $secret, $body, signed( $secret, $body, $now - 3600 ), $now ) );
check( 'one just past the tolerance fails', ! Comment_Moderation::verify( $secret, $body, signed( $secret, $body, $now - 301 ), $now ) );
check( 'one from the future fails', ! Comment_Moderation::verify( $secret, $body, signed( $secret, $body, $now + 3600 ), $now ) );
check( 'a moved timestamp fails', ! Comment_Moderation::verify( $secret, $body, str_replace( 't=' . $now, 't=' . ( $now + 1 ), signed( $secret, $body, $now ) ), $now ) );
check( 'no header fails', ! Comment_Moderation::verify( $secret, $body, '', $now ) );
check( 'no secret configured fails', ! Comment_Moderation::verify( '', $body, signed( '', $body, $now ), $now ) );
check( 'a header without v1 fails', ! Comment_Moderation::verify( $secret, $body, 't=' . $now, $now ) );
check( 'event order reads stream ids', Comment_Moderation::event_order( 'blog.example:1764064800123-2' ) === array( 1764064800123, 2 ) );
check( 'a later event sorts after', Comment_Moderation::event_order( 'b:10-0' ) > Comment_Moderation::event_order( 'b:9-5' ) );

echo $failures ? "$failures FAILED" . PHP_EOL : 'all passed' . PHP_EOL;
exit( $failures ? 1 : 0 );
